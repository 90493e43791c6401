"""Stream processing: the domain steps the validator and mapper agents call, the live config
registry they share, and the faust app factory. Agents themselves live in ``services/``."""
