"""The stores, one per job, all over one `bot.database` helper (SQLite or PostgreSQL).

`bot.storage.Storage` puts them together for the code that needs several.
"""
