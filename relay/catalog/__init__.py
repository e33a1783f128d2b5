"""The product catalog (dynamic ads): a source of products kept in sync with a platform's catalog.

Modules, in the order a sync uses them: ``settings`` (the config blocks), ``product`` (one validated
product), ``sources`` (CSV, SQL, URL feed), ``diff`` (what changed since the last acknowledged sync),
``api`` (the contract a connector's catalog client fulfils), ``sync`` (one run), ``scheduler``,
``command`` (``relay catalog sync``), ``coverage`` (are events' content_ids in the catalog?).

Kept light on purpose: ``relay.settings`` imports ``relay.catalog.settings``.
"""
