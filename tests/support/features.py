"""The features this suite's processes load: the bundled ones plus the job kinds only tests use."""
from shopapp.config import bundled_features

TEST_FEATURES = ",".join((*bundled_features(), "tests.support.test_jobs"))
