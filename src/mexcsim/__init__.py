"""mexcsim: a MEXC-compatible spot exchange simulator. Never imports mexcbot."""
