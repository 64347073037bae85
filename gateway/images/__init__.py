"""`POST /v1/images/generations`: the OpenAI Images API over the jobs service, so the official
`openai` client (and anything written against it) works against Clearance unchanged."""
