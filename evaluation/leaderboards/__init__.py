"""Arena leaderboards. `engine` holds the pure rating computation (numpy and scipy, no Django)."""
