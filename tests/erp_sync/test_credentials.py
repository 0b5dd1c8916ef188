"""ERP credentials at rest: their own keys, rotation, and secrets kept off the command line."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from erp_sync import secrets
from oms.models import ErpSystem
from tests.helpers import run_command as run

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
OTHER_SECRET_KEY = "another-secret-key-" + "y" * 50


def only(key: str) -> Fernet:
    return Fernet(key.encode())


def stored(code: str) -> tuple[str, str]:
    system = ErpSystem.objects.get(code=code)
    return system.token_encrypted, system.secret_encrypted


def test_the_first_key_encrypts(settings):
    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY, OLD_KEY]

    token = secrets.encrypt("t1")

    assert only(NEW_KEY).decrypt(token.encode()) == b"t1"


def test_values_of_the_old_key_stay_readable_after_a_new_first_key(settings):
    settings.OMS_CREDENTIAL_KEYS = [OLD_KEY]
    token = secrets.encrypt("t1")

    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY, OLD_KEY]

    assert secrets.decrypt(token) == "t1"


def test_a_new_secret_key_loses_nothing_when_credential_keys_are_set(settings):
    settings.OMS_CREDENTIAL_KEYS = [OLD_KEY]
    token = secrets.encrypt("t1")

    settings.SECRET_KEY = OTHER_SECRET_KEY

    assert secrets.decrypt(token) == "t1"


def test_values_written_before_credential_keys_were_set_stay_readable(settings):
    token = secrets.encrypt("t1")  # no OMS_CREDENTIAL_KEYS: the key derived from SECRET_KEY

    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY]

    assert secrets.decrypt(token) == "t1"


def test_rotate_credentials_re_encrypts_every_value_with_the_first_key(settings, erp_system_factory):
    settings.OMS_CREDENTIAL_KEYS = [OLD_KEY]
    erp_system_factory(
        code="ERP1", token_encrypted=secrets.encrypt("t1"), secret_encrypted=secrets.encrypt("s1")
    )
    erp_system_factory(code="ERP2", token_encrypted=secrets.encrypt("t2"))
    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY, OLD_KEY]

    assert run("rotate_credentials") == "rotated 3 credentials\n"

    token1, secret1 = stored("ERP1")
    token2, secret2 = stored("ERP2")
    assert [only(NEW_KEY).decrypt(v.encode()) for v in (token1, secret1, token2)] == [b"t1", b"s1", b"t2"]
    assert secret2 == ""
    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY]  # the old key can go now
    settings.SECRET_KEY = OTHER_SECRET_KEY
    system = ErpSystem.objects.get(code="ERP1")
    assert (secrets.system_token(system), secrets.system_secret(system)) == ("t1", "s1")


def test_rotate_credentials_moves_values_of_the_secret_key_onto_the_credential_keys(
    settings, erp_system_factory
):
    erp_system_factory(code="ERP1", token_encrypted=secrets.encrypt("t1"))
    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY]

    assert run("rotate_credentials") == "rotated 1 credentials\n"

    assert only(NEW_KEY).decrypt(stored("ERP1")[0].encode()) == b"t1"


def test_rotate_credentials_reports_unreadable_values_and_rotates_the_rest(settings, erp_system_factory):
    settings.OMS_CREDENTIAL_KEYS = [OLD_KEY]
    erp_system_factory(code="ERP1", token_encrypted=secrets.encrypt("t1"))
    lost = only(Fernet.generate_key().decode()).encrypt(b"t2").decode()
    erp_system_factory(code="ERP2", token_encrypted=lost)
    settings.OMS_CREDENTIAL_KEYS = [NEW_KEY, OLD_KEY]

    with pytest.raises(CommandError) as refused:
        run("rotate_credentials")

    assert str(refused.value) == (
        "cannot decrypt the stored credentials of ERP2 with any key: set them again with oms_erp_system."
    )
    assert only(NEW_KEY).decrypt(stored("ERP1")[0].encode()) == b"t1"
    assert stored("ERP2") == (lost, "")


# --- secrets off the command line -----------------------------------------------------------------

# An ERP on this machine: loopback is a private address, allowed here by name.
ERP_ARGS = ["oms_erp_system", "ERP-A", "--adapter", "http_json", "--base-url", "http://127.0.0.1:8069"]


@pytest.fixture(autouse=True)
def loopback_erp_allowed(settings):
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]


def call(*args, stdin: str = "") -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdin=StringIO(stdin), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def credentials(code: str) -> tuple[str, str]:
    system = ErpSystem.objects.get(code=code)
    return secrets.decrypt(system.token_encrypted), secrets.decrypt(system.secret_encrypted)


def test_erp_token_and_secret_from_environment_variables(monkeypatch):
    monkeypatch.setenv("NEW_ERP_TOKEN", "t-env")
    monkeypatch.setenv("NEW_ERP_SECRET", "s-env")

    out, err = call(*ERP_ARGS, "--token-env", "NEW_ERP_TOKEN", "--secret-env", "NEW_ERP_SECRET")

    assert (out, err) == ("ERP system ERP-A created (http_json, enabled, default)\n", "")
    assert credentials("ERP-A") == ("t-env", "s-env")


def test_erp_token_and_secret_from_standard_input_one_per_line():
    out, err = call(*ERP_ARGS, "--token-stdin", "--secret-stdin", stdin="t-in\ns-in\n")

    assert (out, err) == ("ERP system ERP-A created (http_json, enabled, default)\n", "")
    assert credentials("ERP-A") == ("t-in", "s-in")


def test_erp_token_on_the_command_line_still_works_with_a_warning():
    out, err = call(*ERP_ARGS, "--token", "t-arg")

    assert out == "ERP system ERP-A created (http_json, enabled, default)\n"
    assert err == (
        "warning: --token on the command line ends up in the shell history and the process list; "
        "use --token-env VAR or --token-stdin.\n"
    )
    assert credentials("ERP-A") == ("t-arg", "")


def test_a_missing_environment_variable_is_refused_and_nothing_is_written(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)

    with pytest.raises(CommandError) as refused:
        call(*ERP_ARGS, "--token-env", "NOT_SET_ANYWHERE")

    assert str(refused.value) == "--token-env: the environment variable NOT_SET_ANYWHERE is not set."
    assert not ErpSystem.objects.exists()


def test_empty_standard_input_is_refused_and_nothing_is_written(django_user_model):
    with pytest.raises(CommandError) as refused:
        call("oms_user", "rep@oms.example", "--role", "rep", "--password-stdin", stdin="")

    assert str(refused.value) == "--password-stdin: standard input is empty."
    assert not django_user_model.objects.exists()


def test_user_password_from_standard_input_or_environment(monkeypatch, django_user_model):
    out, err = call(
        "oms_user", "rep@oms.example", "--role", "rep", "--password-stdin", stdin="pass-from-stdin-1\n"
    )
    assert (out, err) == ("created rep@oms.example role=rep\n", "")
    assert django_user_model.objects.get(username="rep@oms.example").check_password("pass-from-stdin-1")

    monkeypatch.setenv("REP_PASSWORD", "pass-from-env-2")
    out, err = call("oms_user", "rep@oms.example", "--role", "rep", "--password-env", "REP_PASSWORD")
    assert (out, err) == ("updated rep@oms.example role=rep\n", "")
    assert django_user_model.objects.get(username="rep@oms.example").check_password("pass-from-env-2")


def test_user_password_on_the_command_line_still_works_with_a_warning(django_user_model):
    out, err = call("oms_user", "rep@oms.example", "--role", "rep", "--password", "pass-from-arg-3")

    assert out == "created rep@oms.example role=rep\n"
    assert err.startswith("warning: --password on the command line ends up in the shell history")
    assert django_user_model.objects.get(username="rep@oms.example").check_password("pass-from-arg-3")
