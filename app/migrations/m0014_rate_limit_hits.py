"""The rate-limit counts of the default storage (app/ratelimit_storage.py): one row per
accepted request on a limited path, until it leaves its moving window."""


def apply(db, migrator):
    db.execute_sql("CREATE TABLE IF NOT EXISTS rate_limit_hit "
                   "(bucket TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS rate_limit_hit_bucket ON rate_limit_hit (bucket, expires)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS rate_limit_hit_expires ON rate_limit_hit (expires)")
