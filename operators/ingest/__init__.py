"""ingest operators: human logs (HRP, HPI) and community formats, as sources and exporters."""
