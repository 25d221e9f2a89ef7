"""Operations: logs, metrics and the retention job, beside the parts they observe."""
