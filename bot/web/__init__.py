"""The director's dashboard: a Telegram Mini App served by opsbot itself (decision 66)."""
