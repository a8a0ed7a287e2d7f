"""Example domains: ``user`` (the reference design's, flaws fixed) and ``account`` (exercises)."""
