"""privacy operators: PII redaction and consent (opt-out, pseudonymous author ids) for human logs."""
