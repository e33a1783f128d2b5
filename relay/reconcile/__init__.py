"""Order reconciliation: orders from a CSV file or a SQL query against the Purchase conversions the
relay received and delivered (``relay reconcile`` and the scheduled job)."""
