"""Public statistics (統計, no login): cards issued and exchanges, beside the government's tables.

- ``reference``: the December 2018 tables (``portal/data/statistics_2018.toml``): cards by
  municipality kind, the top municipalities, by age and sex; the exchanges of 2018.
- ``figures``: the installation's own counts (card register, identity index, the hub's
  exchange records), kept in memory for ``PortalSettings.statistics_ttl``
  (``PublicStatistics``, ``Portal.statistics``).
- ``suppression``: small counts of people shown as ``X`` (秘匿), with their complements.
- ``tables``: the page's tables and their CSV; ``charts``: bar charts drawn as SVG;
  ``web``: ``/statistics`` and ``/statistics/<table>.csv``.
"""

from openmyna.portal.statistics.figures import PublicStatistics

__all__ = ["PublicStatistics"]
