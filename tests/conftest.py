import pytest
import torch


@pytest.fixture(autouse=True)
def _float64_and_threads():
    # Theorem checks run in float64; keep the default dtype unchanged for other tests.
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)
