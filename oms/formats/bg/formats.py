"""Bulgarian formats: day.month.year and the 24-hour clock (БДС).

Django's Bulgarian locale has no date-time formats of its own, so date-times fell back to the
American "12/07/2026 5:46 p.m."; these complete it. Format characters as in the `date` filter.
"""

DATE_FORMAT = "j F Y г."
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y г., H:i"
YEAR_MONTH_FORMAT = "F Y г."
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
DATE_INPUT_FORMATS = ["%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d"]
DATETIME_INPUT_FORMATS = [
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
]
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"  # non-breaking space
NUMBER_GROUPING = 3
