"""Host 1's float64 values reach every worker exactly, though the parameter server carries
float32: each value travels as three float32 parts (WorkerGroup.broadcast)."""
import numpy as np

from algorithms.common.distributed import _float32_parts


def test_three_float32_parts_sum_to_the_exact_float64_value():
    values = np.array([54997.206944602825, 922644.26366928, -3.3e12, 2.0 ** 25 + 1, np.pi, 1e-30, 0.0])
    parts = _float32_parts(values)
    assert np.array_equal(parts.astype(np.float32).astype(np.float64), parts)  # each part survives float32
    assert np.array_equal(parts.sum(axis=0), values)
    assert not np.array_equal(values.astype(np.float32).astype(np.float64), values)  # one part would not do
