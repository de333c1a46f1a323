"""What every long job shares: the lease that tells a live worker from a dead one (`lease.py`)."""
