"""The sentence reader: a report typed the way people talk, read into a form's fields.

Rules only (no cloud service, no language model): the form's labels and synonyms, the person's
own words, the channel library, numbers and dates as people write them. `read` is the entry.
"""

from bot.forms.reader.assemble import Found, Reading, read
from bot.forms.reader.channels import Known

__all__ = ["Found", "Known", "Reading", "read"]
