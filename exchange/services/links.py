"""KTS link writes (R17)."""

from exchange.models import (
    KtsLink,
)
from schools.models import Section


def kts_link_create(*, hs_section: Section, tech_section: Section) -> KtsLink:
    """R17: link a HS section of a KTS course to a tech section of the same school year."""
    link = KtsLink(hs_section=hs_section, tech_section=tech_section)
    link.full_clean()
    link.save()
    return link
