"""The one check that an answer is the RFC 9457 problem a test expects (tests/ is on the path)."""

from gateway.errors import PROBLEM_BASE


def assert_problem(response, status: int, slug: str) -> dict:
    """Assert a Flask test response is problem+json with `status` and the stable `slug`; return
    the problem."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == PROBLEM_BASE + slug, problem
    assert problem["status"] == status, problem
    return problem
