"""The API docs page shows its key sentence whole (issue 19, item 5): the schema's description is Markdown, and a
``<path>`` outside a code span is an HTML tag there, which the page swallowed ("reachable as /api/v1/")."""

import re

import pytest

pytestmark = pytest.mark.django_db

CODE_SPAN = re.compile(r"`[^`\n]+`")


def description(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()["info"]["description"]


def test_no_angle_bracket_is_left_outside_a_code_span(client):
    text = description(client)
    assert "<" not in CODE_SPAN.sub("", text) and ">" not in CODE_SPAN.sub("", text), text


def test_all_three_styles_are_shown_with_an_example_the_documents_own_first(client):
    spans = CODE_SPAN.findall(description(client))
    styles = [span for span in spans if "<path>" in span]
    assert styles == ["`/api/v1/index.php?path=<path>`", "`/api/v1/index.php/<path>`", "`/api/v1/<path>`"]
    for example in (
        "`/api/v1/index.php?path=activations/42/poll`",
        "`/api/v1/index.php/activations/42/poll`",
        "`/api/v1/activations/42/poll`",
    ):
        assert example in spans


def test_the_example_paths_really_answer_in_each_style(client, alice_key):
    # the examples are not prose only: each style reaches the same endpoint (404 for a missing activation)
    for url in (
        "/api/v1/index.php?path=activations/42/poll",
        "/api/v1/index.php/activations/42/poll",
        "/api/v1/activations/42/poll",
    ):
        response = client.get(url, HTTP_X_API_KEY=alice_key)
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
