"""Positions in the engine: the book (open positions, fills) and the exit monitor."""
