"""The stand-in starts only with Eula/Billing/ApiKey, as the real containers do."""

import pytest

GOOD = ["Eula=accept", "Billing=https://westus.api.cognitive.microsoft.com/", "ApiKey=k"]


def test_arguments_give_the_settings(standin):
    settings = standin.parse_settings(GOOD, {})
    assert settings == {"Eula": "accept", "Billing": GOOD[1].split("=", 1)[1], "ApiKey": "k", "mode": "connected"}


def test_environment_variables_are_read_and_arguments_win(standin):
    settings = standin.parse_settings(
        ["apikey=from-arg"],
        {"EULA": "accept", "billing": "https://x.cognitiveservices.azure.com", "ApiKey": "from-env"},
    )
    assert settings["ApiKey"] == "from-arg"
    assert settings["Billing"] == "https://x.cognitiveservices.azure.com"


@pytest.mark.parametrize("dropped", ["Eula", "Billing", "ApiKey"])
def test_a_missing_setting_is_named(standin, dropped):
    argv = [arg for arg in GOOD if not arg.startswith(dropped + "=")]
    with pytest.raises(standin.ConfigError) as error:
        standin.parse_settings(argv, {})
    assert "must be specified to run the container" in str(error.value)
    assert "Missing: " + dropped in str(error.value)


def test_eula_must_be_accept(standin):
    with pytest.raises(standin.ConfigError, match="Eula option must be set to 'accept'"):
        standin.parse_settings(["Eula=yes", *GOOD[1:]], {})


@pytest.mark.parametrize("billing", ["http://x.cognitive.microsoft.com", "westus", "https://"])
def test_billing_must_be_an_https_url(standin, billing):
    with pytest.raises(standin.ConfigError, match="Billing option must be an https:// URL"):
        standin.parse_settings([GOOD[0], "Billing=" + billing, GOOD[2]], {})


def test_main_refuses_to_start_and_never_prints_the_key(standin, capsys):
    assert standin.main(["Eula=no", GOOD[1], "ApiKey=secret-key-123"], {}) == 1
    captured = capsys.readouterr()
    assert "Eula" in captured.err
    assert "secret-key-123" not in captured.out + captured.err


@pytest.mark.parametrize(
    "text, code",
    [
        ("Hello world, this is the answer", "en"),
        ("Bonjour le monde, ceci est la vie", "fr"),
        ("Hallo Welt, das ist der Tag", "de"),
        ("Hola mundo, esto es el dia", "es"),
    ],
)
def test_language_detection(standin, text, code):
    assert standin.detect_language(text)["iso6391Name"] == code


def test_unknown_language(standin):
    assert standin.detect_language("zzz qqq")["iso6391Name"] == "(Unknown)"


def test_disconnected_mode_needs_only_the_eula(standin):
    settings = standin.parse_settings(["Eula=accept", "Mounts:License=/license", "Mounts:Output=/output"], {})
    assert settings["mode"] == "disconnected"


def test_licence_download_needs_billing_and_key(standin):
    with pytest.raises(standin.ConfigError, match="Missing: Billing, ApiKey"):
        standin.parse_settings(["Eula=accept", "DownloadLicense=True", "Mounts:License=/license"], {})
    with pytest.raises(standin.ConfigError, match="needs Mounts:License"):
        standin.parse_settings([*GOOD, "DownloadLicense=True"], {})


def test_disconnected_container_refuses_to_start_without_a_licence(standin, tmp_path, capsys):
    assert standin.main(["Eula=accept", "Mounts:License={0}".format(tmp_path)], {}) == 1
    assert "Container is not licensed" in capsys.readouterr().err
