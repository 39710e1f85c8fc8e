"""KPI definitions (configuration) and the digest schedules."""
