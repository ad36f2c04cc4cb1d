"""Talking to Shopify: session tokens, token exchange and refresh, OAuth, the Admin GraphQL client."""
