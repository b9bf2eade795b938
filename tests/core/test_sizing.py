"""How many Rasa processes `frontdoor up` starts on a machine (core/sizing.py),
and that the launcher fixes the number once, so Rasa and the gateway agree."""

from pydantic import SecretStr

from bot.infra.supervisor import gateway_env, model_path, plan, sized
from core.settings import Settings
from core.sizing import Machine, rasa_processes

GB = 1024 ** 3


def test_rasa_gets_the_cores_but_one_as_far_as_the_memory_holds():
    assert rasa_processes(Machine(cores=1, available_bytes=16 * GB)) == 1
    assert rasa_processes(Machine(cores=2, available_bytes=16 * GB)) == 1
    assert rasa_processes(Machine(cores=8, available_bytes=64 * GB)) == 7
    assert rasa_processes(Machine(cores=8, available_bytes=3 * GB)) == 1  # memory-bound
    assert rasa_processes(Machine(cores=1, available_bytes=GB)) == 1  # never none


def test_the_launcher_fixes_and_says_the_number_and_starts_that_many(tmp_path):
    said: list[str] = []
    settings = Settings(var_dir=tmp_path, models_dir=tmp_path / "models", rasa_port=15100,
                        rasa_token=SecretStr("r" * 24), rasa_processes=0)
    chosen = sized(settings, said.append)
    assert chosen.rasa_processes >= 1 and "Rasa:" in said[0] and "cores" in said[0]
    two = sized(settings.model_copy(update={"rasa_processes": 2}), said.append)
    assert "FRONTDOOR_RASA_PROCESSES" in said[1]
    model_path(two).parent.mkdir()
    model_path(two).touch()  # plan() names the model; nothing is started here
    children = [c for wave in plan(two) for c in wave]
    rasas = [c for c in children if c.name.startswith("rasa")]
    assert [(c.name, c.port) for c in rasas] == [("rasa", 15100), ("rasa-2", 15101)]
    assert two.rasa_replicas == ["http://127.0.0.1:15100", "http://127.0.0.1:15101"]
    assert gateway_env(two)["FRONTDOOR_RASA_PROCESSES"] == "2"
