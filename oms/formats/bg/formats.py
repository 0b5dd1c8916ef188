"""Bulgarian date formats: day.month.year and the 24-hour clock.

Django's Bulgarian locale has no date-time formats of its own, so date-times fell back to the
American "12/07/2026 5:46 p.m."; these complete it (format characters as in the `date` filter).
Anything not set here, such as the input formats (ISO first, which `<input type="date">` needs) and
the number separators, comes from Django's Bulgarian locale.
"""

DATE_FORMAT = "j F Y г."
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y г., H:i"
YEAR_MONTH_FORMAT = "F Y г."
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
