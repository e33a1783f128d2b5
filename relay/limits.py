"""The size limits of an event (CONTRACT §4.1), in one place: every field has a maximum, so that no work
done for one request grows faster than its size and nothing stored can be refused by the database.

A value over its limit rejects the event (per event: the others of the batch are still accepted), with
a message naming the field and the limit. The README's Security section lists these values.
"""

from __future__ import annotations

#: ``event_name`` and ``event_id``
MAX_EVENT_NAME = 255
MAX_EVENT_ID = 255
#: ``event_source_url`` and ``referrer_url``
MAX_URL = 4096
#: ``event_time`` given as text (Unix seconds or ISO-8601)
MAX_TIME_TEXT = 64
#: ``event_time`` given as a number: Unix seconds, or milliseconds up to the year 5138
MAX_EVENT_TIME = 10**14

#: each value of a contact field (email, phone, names, gender, date of birth, city, state, zip, country,
#: external_id), and how many values a list of them may hold
MAX_CONTACT_VALUE = 256
MAX_CONTACT_VALUES = 10
#: device and click ids, IP address, user agent
MAX_IP = 64
MAX_USER_AGENT = 2048
MAX_FBC = 1024
#: fbp, twclid, ttclid, ttp, sc_click_id, scid, epik, rdt_cid, rdt_uuid, li_fat_id, gclid, gbraid, wbraid
MAX_CLICK_ID = 512
MAX_ID = 256  # subscription_id, lead_id, madid

#: consent strings
MAX_TCF = 8192
MAX_GPP = 8192
MAX_GPP_SID = 64  # as text ("2,7"); as a list: at most MAX_GPP_SECTIONS section ids
MAX_GPP_SECTIONS = 32
MAX_GPP_SECTION_ID = 1000
MAX_USP = 16
MAX_GCS = 16
MAX_GCM_KEYS = 16
MAX_GCM_KEY = 64

#: ``custom``: keys per object (at every level), nesting depth (``custom`` itself is level 1), characters
#: per key and per string, items per list
MAX_CUSTOM_KEYS = 50
MAX_CUSTOM_DEPTH = 5
MAX_CUSTOM_KEY = 100
MAX_CUSTOM_STRING = 1000
MAX_CUSTOM_LIST = 200
#: integers in ``custom`` (what the JSON columns and the platforms' payloads can hold)
MAX_CUSTOM_INT = 2**63 - 1
#: ``custom.num_items`` and the ``quantity`` of a ``contents`` item
MAX_COUNT = 10**9
