"""Yearly figures (Art 83): what a provider and the centre report each year, computed by SQL over
the tables the other domains own, with error rates measured from reviewers' decisions."""
