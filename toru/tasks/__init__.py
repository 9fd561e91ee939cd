"""Scripts and tasks: the scripts directory, the runner, output, history and quick actions."""
