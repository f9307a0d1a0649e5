"""Scripts of the repository; importable so that tests can reach the shape generator."""
