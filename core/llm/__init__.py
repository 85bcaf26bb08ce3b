"""Language-model backends behind one port (:class:`core.llm.base.LLMBackend`)."""
