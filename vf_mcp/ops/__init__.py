"""Operations: API keys, rate limits, shared cache, metrics, audit log and the HTTP gateway.

Every piece is an object built per server; nothing here keeps module-level state.
"""
