"""Headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) uses Keel's dashboard.

    python dashboard_browser.py BASE_URL API_KEY RUN_ID SCREENSHOT_FOLDER

Signs in with the key, opens the run (which waits for an approval), approves it, and waits until
the live timeline says the run completed. Saves runs.png and run.png. Prints one JSON object of
what it saw; exits non-zero when a step fails.
"""
import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

base, key, run_id, folder = sys.argv[1:5]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--disable-gpu"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
seen = {}
try:
    wait = WebDriverWait(driver, 30)
    driver.get(base + "/")
    seen["redirected_to_login"] = driver.current_url.endswith("/login")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(conditions.presence_of_element_located((By.ID, "runs")))
    seen["runs_listed"] = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]
    cookie = driver.get_cookie("keel_session")
    seen["cookie"] = {"httpOnly": cookie.get("httpOnly"), "sameSite": cookie.get("sameSite")} if cookie else None
    driver.save_screenshot(os.path.join(folder, "runs.png"))

    driver.get(base + "/runs/" + run_id)
    wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, ".approval button.approve")))
    seen["status_before"] = driver.find_element(By.ID, "status").text
    seen["steps_before"] = len(driver.find_elements(By.CSS_SELECTOR, "#steps tbody tr"))
    driver.find_element(By.CSS_SELECTOR, ".approval button.approve").click()
    # Back on the run page: the live timeline follows the run to its end.
    wait.until(conditions.text_to_be_present_in_element((By.ID, "status"), "completed"))
    seen["status_after"] = driver.find_element(By.ID, "status").text
    seen["steps_after"] = len(driver.find_elements(By.CSS_SELECTOR, "#steps tbody tr"))
    seen["approvals_left"] = len(driver.find_elements(By.CSS_SELECTOR, ".approval"))
    driver.save_screenshot(os.path.join(folder, "run.png"))
    driver.get(base + "/costs")
    seen["audit"] = driver.find_element(By.ID, "audit").text
    print(json.dumps(seen))
except Exception as error:
    print(json.dumps({"error": repr(error), "seen": seen, "page": driver.page_source[:3000]}))
    sys.exit(1)
finally:
    driver.quit()
