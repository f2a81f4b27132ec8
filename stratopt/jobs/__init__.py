"""What runs inside a Job's pod: ``python -m stratopt.jobs run --kind K --name N ...``."""
