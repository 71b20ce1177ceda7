"""`make bench`: the polling and invocation benchmarks of issue 4, with their targets."""
