"""The shops and credentials the test kit's app uses (fixed, so failures are easy to read)."""

SHOP = "test-shop.myshopify.com"
OTHER_SHOP = "other-shop.myshopify.com"
API_KEY = "test-api-key"
API_SECRET = "test-api-secret-0123456789abcdef"
ENCRYPTION_KEY = "I67nKn24mXqgTL6zPTuTWcxpUVKsEqUmccIotcgNo4Q="
