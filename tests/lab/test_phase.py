"""Momentum's phase portrait: spirals at sqrt(m) per step, and an orbit that never closes at m = 1."""

import math

import numpy as np
import pytest
from matplotlib.image import imread

import scratch_gd as sg
from scratch_gd.cli.main import main
from scratch_gd.lab import phase


def test_the_iteration_is_the_library_optimiser_on_a_bowl():
    # f(p) = a p^2 / 2 has gradient a p: step the real SGD on one parameter and compare.
    m, lr, a = 0.9, 0.3, 2.0
    param = sg.Parameter(np.array([1.0]))
    optimizer = sg.SGD([param], lr=lr, momentum=m)
    expected = phase.iterate(m, lr, a, steps=20)
    for t in range(1, 21):
        optimizer.zero_grad()
        param.grad += a * param.data
        optimizer.step()
        assert param.data[0] == pytest.approx(expected[t, 0], rel=1e-12, abs=1e-15)
        assert optimizer.velocity[0][0] == pytest.approx(expected[t, 1], rel=1e-12, abs=1e-15)


def test_the_step_matrix_has_determinant_m_and_eigenvalues_of_modulus_sqrt_m():
    for m in (0.3, 0.5, 0.9, 1.0):
        matrix = phase.step_matrix(m, lr=0.5)
        assert np.linalg.det(matrix) == pytest.approx(m)
        np.testing.assert_allclose(np.abs(np.linalg.eigvals(matrix)), math.sqrt(m), rtol=1e-12)
        states = phase.iterate(m, 0.5, steps=5)
        np.testing.assert_allclose(states[1:], states[:-1] @ matrix.T, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("m", [0.25, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("h_share", [0.1, 0.5, 0.9])  # where in the underdamped range lr*a lies
def test_the_state_contracts_by_sqrt_m_every_step(m, h_share):
    low, high = phase.underdamped_range(m)
    a = 2.0
    lr = (low + h_share * (high - low)) / a
    assert phase.is_underdamped(m, lr, a)
    states = phase.iterate(m, lr, a, steps=80)
    # Each step, in the norm sqrt(Q) ...
    np.testing.assert_allclose(phase.measured_rates(states, m, lr, a), math.sqrt(m), rtol=1e-9)
    # ... and on average in the plain Euclidean norm too, which does not depend on Q being right.
    size = np.linalg.norm(states, axis=1)
    average = (size[-1] / size[20]) ** (1 / 60)
    assert average == pytest.approx(math.sqrt(m), rel=0.03)


def test_outside_the_underdamped_range_the_rate_is_not_sqrt_m():
    # Overdamped (lr*a below the range): the slow real eigenvalue sets a rate above sqrt(m).
    m, lr = 0.5, 0.05
    assert not phase.is_underdamped(m, lr)
    states = phase.iterate(m, lr, steps=400)
    average = (abs(states[-1, 0]) / abs(states[200, 0])) ** (1 / 200)
    slow = max(abs(np.linalg.eigvals(phase.step_matrix(m, lr))))
    assert average == pytest.approx(slow, rel=1e-3)
    assert average > math.sqrt(m) + 0.1


def test_at_momentum_one_the_orbit_keeps_its_energy_and_never_closes_in():
    states = phase.iterate(1.0, 0.5, steps=5000)
    q = phase.energy(states, 1.0, 0.5)
    np.testing.assert_allclose(q, q[0], rtol=1e-9)
    assert np.max(np.abs(states[-200:, 0])) > 0.9  # still swinging out to |p| ~ 1
    # while m = 0.9 from the same start has come to rest
    assert np.max(np.abs(phase.iterate(0.9, 0.5, steps=5000)[-200:, 0])) < 1e-50


def test_at_momentum_zero_the_velocity_is_the_last_gradient():
    lr, a = 0.5, 3.0
    states = phase.iterate(0.0, lr, a, steps=10)
    np.testing.assert_allclose(states[1:, 1], a * states[:-1, 0])
    np.testing.assert_allclose(states[1:, 0], (1 - lr * a) * states[:-1, 0])


def test_turn_per_step_matches_the_eigenvalue_angle():
    m, lr = 0.9, 0.5
    eigenvalue = np.linalg.eigvals(phase.step_matrix(m, lr))[0]
    assert phase.turn_per_step(m, lr) == pytest.approx(abs(np.angle(eigenvalue)))
    with pytest.raises(ValueError, match="not underdamped"):
        phase.turn_per_step(0.5, 0.05)


def test_the_figure_refuses_a_learning_rate_outside_the_spiral_range(tmp_path):
    with pytest.raises(ValueError, match="must lie in"):
        phase.phase_figure(tmp_path / "phase.png", lr=0.01)


def test_momentum_command_draws_the_phase_portrait(tmp_path, capsys):
    code = main(["momentum", "--n", "50", "--steps", "20", "--momenta", "0,1",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0
    assert "momentum_phase.png" in capsys.readouterr().out
    image = imread(tmp_path / "momentum_phase.png")
    assert image.shape[1] > 800 and np.std(image) > 0.01
