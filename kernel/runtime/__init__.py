"""What runs beside requests: jobs, events (outbox), broadcast, object storage, mail, audit."""
