"""First-party campaign results: visits, conversions and revenue by source / medium / campaign, by
platform, per landing page and consent rates per place, from the relay's own stored events."""

from relay.results.report import ATTRIBUTION_DAYS, GROUPS, WINDOWS, ResultsQuery, campaign_results

__all__ = ["ATTRIBUTION_DAYS", "GROUPS", "WINDOWS", "ResultsQuery", "campaign_results"]
