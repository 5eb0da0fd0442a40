"""A marketer imports a HubSpot export of leads: upload, mapping pre-filled, preview with a
bad row, the progress bar while a real worker imports, the result with the rejects."""

import pytest
from playwright.sync_api import expect

from pipeline.models import Lead
from revops.models import Team, User

CSV = (
    "Record ID,First Name,Last Name,Email,Company Name,Original Source,Lead Status,"
    "Create Date\n"
    + "".join(
        f"{100 + i},Lead{i},Test,l{i}@x.io,Co,webinar,new,2025-02-0{1 + i % 9}\n" for i in range(40)
    )
    + "999,Bad,Row,bad@x.io,Co,webinar,new,2025-02-30\n"
)


@pytest.fixture
def marketer(transactional_db):
    team = Team.objects.create(name="Marketing", kind=Team.Kind.MARKETING)
    return User.objects.create_user(
        "marketer@daramad.example", "demo", full_name="Mina", role=User.Role.MARKETER, team=team
    )


@pytest.mark.celery_worker
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_marketer_imports_leads_from_the_browser(
    new_page, marketer, screenshot, language, celery_worker_process, tmp_path
):
    marketer.language = language
    marketer.save(update_fields=["language"])
    source = tmp_path / "hubspot-leads.csv"
    source.write_text(CSV, encoding="utf-8")
    page = new_page("fa-IR" if language == "fa" else "en-US")
    page.goto("/login/")
    page.locator("input[name=username]").fill(marketer.email)
    page.locator("input[name=password]").fill("demo")
    page.locator("button[type=submit].primary").click()
    page.goto("/imports/")
    page.locator("input[type=file]").set_input_files(str(source))
    page.locator("form button[type=submit].primary").click()
    expect(page.locator("select[name='map-Original Source']")).to_have_value("source")
    expect(page.locator("table.preview tbody tr")).to_have_count(10)
    screenshot(page, f"import-mapping-{language}")
    page.reload()  # the upload survives a reload
    expect(page.locator("select[name='map-Create Date']")).to_have_value("created_on")
    page.locator("button[name=start]").click()
    expect(page.locator(".import-result")).to_be_visible(timeout=30_000)
    expect(page.locator(".problems")).to_contain_text("leads.csv:42: created_on")
    # The worker wrote the problem in the uploader's language.
    reason = "چنین روزی وجود ندارد" if language == "fa" else "no such day"
    expect(page.locator(".problems")).to_contain_text(reason)
    expect(page.locator("a[href$='/rejects/']")).to_be_visible()
    screenshot(page, f"import-result-{language}")
    assert Lead.objects.count() == 40
