"""The analyst's files -> analysis-ready tables.

``folder`` (an experiment folder's exports with their read reports), ``arms`` (arms from naming
conventions or mapping files), ``segments`` (warm / cold / lapsed leads), ``derived`` (margin
value, conversion curves, attributed vs true, frequency levels, creative age).
"""

from abtest.prepare.arms import apply_mapping, assignments, parse_names, pattern_regex, read_mapping
from abtest.prepare.derived import (
    OFFER_MARGIN_VALUE,
    add_margin_value,
    attributed_vs_true,
    conversion_curves,
    creative_age_levels,
    frequency_levels,
    story_metrics,
)
from abtest.prepare.folder import LoadedData, load_ad_stats, load_users, resolve_data_dir
from abtest.prepare.segments import SegmentSummary, classify_leads

__all__ = [
    "OFFER_MARGIN_VALUE",
    "LoadedData",
    "SegmentSummary",
    "add_margin_value",
    "apply_mapping",
    "assignments",
    "attributed_vs_true",
    "classify_leads",
    "conversion_curves",
    "creative_age_levels",
    "frequency_levels",
    "load_ad_stats",
    "load_users",
    "parse_names",
    "pattern_regex",
    "read_mapping",
    "resolve_data_dir",
    "story_metrics",
]
