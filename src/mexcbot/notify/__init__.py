"""Notifications and remote control: an outbox in the database delivered to Telegram chats and
signed webhooks, and Telegram commands acting through the engine's services.

An outer package like the API: it may import the domain, the engine and the store; nothing in
the domain or the engine imports it. Nothing on the trading path waits for it: bus subscribers
only queue, a background writer stores the outbox, and one delivery loop per channel sends.
"""
