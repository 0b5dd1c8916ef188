import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
application = get_asgi_application()

from oms.lib.redis import warn_if_limits_are_per_process  # noqa: E402 - needs the settings set up above

warn_if_limits_are_per_process()
