"""Generation jobs: submission, dispatch to a permitted runner, execution, events, results.

`JobService` is the one entry point (the HTTP controllers and any other surface, such as an
OpenAI-compatible endpoint, call it); `JobsRuntime` owns the runner pool, the executor and the
delivery workers for the app's lifetime.
"""
