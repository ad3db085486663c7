"""Writes tests/corpus/secrets.jsonl: synthetic secrets in the documented formats of public
secret scanners' rules (gitleaks, trufflehog, detect-secrets), three of each kind.

Every value is made here from a fixed seed and carries a marker that says it is an example
(EXAMPLE, example, FAKE, deadbeef, 0000 ... where the format's alphabet allows), so none is
anyone's credential, yet each has the real prefix, alphabet and length of its kind.

    python tests/corpus/make_secrets.py   # rewrites secrets.jsonl (deterministic)
"""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path

UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LO = "abcdefghijklmnopqrstuvwxyz"
DI = "0123456789"
ALPHABETS = {
    "AN": UP + LO + DI, "AZ": UP + DI, "az": LO + DI, "L": LO, "U": UP, "D": DI,
    "H": "0123456789abcdef", "HU": "0123456789ABCDEF", "B64": UP + LO + DI + "+/",
    "B64U": UP + LO + DI + "-_", "B32": UP + "234567", "ANU": UP + LO + DI + "_",
}
MARKERS = ("EXAMPLE", "example", "FAKE", "fake", "deadbeef", "0000")

# kind, environment variable a user would keep it in, format ({ALPHABET:length})
KINDS: list[tuple[str, str, str]] = [
    ("aws-access-key-id", "AWS_ACCESS_KEY_ID", "AKIA{AZ:16}"),
    ("aws-temp-access-key-id", "AWS_ACCESS_KEY_ID", "ASIA{AZ:16}"),
    ("aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "{B64:40}"),
    ("aws-session-token", "AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE{B64:200}"),
    ("github-pat", "GITHUB_TOKEN", "ghp_{AN:36}"),
    ("github-oauth", "GH_TOKEN", "gho_{AN:36}"),
    ("github-user-to-server", "GITHUB_TOKEN", "ghu_{AN:36}"),
    ("github-app-installation", "GITHUB_TOKEN", "ghs_{AN:36}"),
    ("github-refresh", "GITHUB_REFRESH_TOKEN", "ghr_{AN:36}"),
    ("github-fine-grained-pat", "GITHUB_PAT", "github_pat_11{AZ:20}_{AN:59}"),
    ("gitlab-pat", "GITLAB_TOKEN", "glpat-{B64U:20}"),
    ("gitlab-runner", "RUNNER_TOKEN", "glrt-{B64U:20}"),
    ("gitlab-deploy-token", "CI_DEPLOY_PASSWORD", "gldt-{B64U:20}"),
    ("gitlab-pipeline-trigger", "TRIGGER_TOKEN", "glptt-{H:40}"),
    ("gitlab-feed-token", "GITLAB_FEED_TOKEN", "glft-{B64U:20}"),
    ("slack-bot", "SLACK_BOT_TOKEN", "xoxb-{D:12}-{D:13}-{AN:24}"),
    ("slack-user", "SLACK_USER_TOKEN", "xoxp-{D:12}-{D:12}-{D:13}-{H:32}"),
    ("slack-app", "SLACK_APP_TOKEN", "xapp-1-A{AZ:10}-{D:13}-{H:64}"),
    ("slack-config", "SLACK_CONFIG_TOKEN", "xoxe.xoxp-1-{AN:140}"),
    ("slack-legacy-workspace", "SLACK_TOKEN", "xoxa-2-{D:12}-{AN:30}"),
    ("slack-webhook", "SLACK_WEBHOOK_URL",
     "https://hooks.slack.com/services/T{AZ:10}/B{AZ:10}/{AN:24}"),
    ("slack-workflow-webhook", "SLACK_WORKFLOW_URL",
     "https://hooks.slack.com/triggers/T{AZ:10}/{D:13}/{H:32}"),
    ("stripe-secret-live", "STRIPE_SECRET_KEY", "sk_live_{AN:99}"),
    ("stripe-secret-test", "STRIPE_SECRET_KEY", "sk_test_{AN:99}"),
    ("stripe-restricted", "STRIPE_API_KEY", "rk_live_{AN:99}"),
    ("stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET", "whsec_{AN:32}"),
    ("openai-project", "OPENAI_API_KEY", "sk-proj-{B64U:74}T3BlbkFJ{B64U:74}"),
    ("openai-legacy", "OPENAI_API_KEY", "sk-{AN:20}T3BlbkFJ{AN:20}"),
    ("openai-service-account", "OPENAI_API_KEY", "sk-svcacct-{B64U:74}T3BlbkFJ{B64U:74}"),
    ("anthropic-api", "ANTHROPIC_API_KEY", "sk-ant-api03-{B64U:93}AA"),
    ("anthropic-admin", "ANTHROPIC_ADMIN_KEY", "sk-ant-admin01-{B64U:93}AA"),
    ("google-api-key", "GOOGLE_API_KEY", "AIza{B64U:35}"),
    ("google-oauth-client-secret", "GOOGLE_CLIENT_SECRET", "GOCSPX-{B64U:28}"),
    ("google-oauth-refresh", "GOOGLE_REFRESH_TOKEN", "1//0{B64U:99}"),
    ("google-oauth-access", "GOOGLE_ACCESS_TOKEN", "ya29.{B64U:150}"),
    ("azure-storage-connection", "AZURE_STORAGE_CONNECTION_STRING",
     "DefaultEndpointsProtocol=https;AccountName=examplestore;AccountKey={B64:86}==;"
     "EndpointSuffix=core.windows.net"),
    ("azure-ad-client-secret", "AZURE_CLIENT_SECRET", "{AN:3}8Q~{B64U:31}"),
    ("azure-sas-url", "AZURE_SAS_URL",
     "https://examplestore.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rl"
     "&se=2026-12-31T00:00:00Z&sig={B64:43}%3D"),
    ("azure-service-bus", "SERVICEBUS_CONNECTION",
     "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
     "SharedAccessKey={B64:43}="),
    ("twilio-api-key", "TWILIO_API_KEY", "SK{H:32}"),
    ("twilio-auth-token", "TWILIO_AUTH_TOKEN", "{H:32}"),
    ("sendgrid", "SENDGRID_API_KEY", "SG.{B64U:22}.{B64U:43}"),
    ("mailgun-private", "MAILGUN_API_KEY", "key-{H:32}"),
    ("mailchimp", "MAILCHIMP_API_KEY", "{H:32}-us{D:2}"),
    ("npm-access-token", "NPM_TOKEN", "npm_{AN:36}"),
    ("pypi-upload-token", "PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc{B64U:80}"),
    ("rubygems", "GEM_HOST_API_KEY", "rubygems_{H:48}"),
    ("dockerhub-pat", "DOCKERHUB_TOKEN", "dckr_pat_{B64U:27}"),
    ("digitalocean-pat", "DIGITALOCEAN_TOKEN", "dop_v1_{H:64}"),
    ("digitalocean-oauth", "DO_OAUTH_TOKEN", "doo_v1_{H:64}"),
    ("heroku-v2", "HEROKU_API_KEY", "HRKU-AA{B64U:58}"),
    ("shopify-access", "SHOPIFY_ACCESS_TOKEN", "shpat_{H:32}"),
    ("shopify-shared-secret", "SHOPIFY_API_SECRET", "shpss_{H:32}"),
    ("shopify-custom-app", "SHOPIFY_TOKEN", "shpca_{H:32}"),
    ("huggingface", "HF_TOKEN", "hf_{AN:34}"),
    ("huggingface-org", "HUGGINGFACE_API_KEY", "api_org_{AN:34}"),
    ("databricks", "DATABRICKS_TOKEN", "dapi{H:32}"),
    ("doppler-personal", "DOPPLER_TOKEN", "dp.pt.{AN:43}"),
    ("doppler-service", "DOPPLER_TOKEN", "dp.st.prd.{AN:40}"),
    ("linear", "LINEAR_API_KEY", "lin_api_{AN:40}"),
    ("newrelic-user", "NEW_RELIC_API_KEY", "NRAK-{AZ:27}"),
    ("newrelic-browser", "NEW_RELIC_BROWSER_KEY", "NRJS-{H:19}"),
    ("newrelic-insert", "NEW_RELIC_INSERT_KEY", "NRII-{B64U:32}"),
    ("grafana-cloud", "GRAFANA_CLOUD_TOKEN", "glc_{AN:80}"),
    ("grafana-service-account", "GRAFANA_TOKEN", "glsa_{AN:32}_{H:8}"),
    ("vault-service-token", "VAULT_TOKEN", "hvs.{B64U:90}"),
    ("vault-batch-token", "VAULT_TOKEN", "hvb.{B64U:138}"),
    ("terraform-cloud", "TFE_TOKEN", "{AN:14}.atlasv1.{B64U:67}"),
    ("pulumi", "PULUMI_ACCESS_TOKEN", "pul-{H:40}"),
    ("postman", "POSTMAN_API_KEY", "PMAK-{H:24}-{H:34}"),
    ("sentry-org", "SENTRY_AUTH_TOKEN", "sntrys_{B64:110}"),
    ("sentry-user", "SENTRY_AUTH_TOKEN", "sntryu_{H:64}"),
    ("planetscale-token", "PLANETSCALE_SERVICE_TOKEN", "pscale_tkn_{B64U:43}"),
    ("planetscale-password", "PLANETSCALE_PASSWORD", "pscale_pw_{B64U:43}"),
    ("prefect", "PREFECT_API_KEY", "pnu_{AN:36}"),
    ("readme", "README_API_KEY", "rdme_{az:70}"),
    ("clojars", "CLOJARS_DEPLOY_TOKEN", "CLOJARS_{az:60}"),
    ("age-secret-key", "SOPS_AGE_KEY", "AGE-SECRET-KEY-1{B32:58}"),
    ("alibaba-access-key", "ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI{AN:20}"),
    ("atlassian-api-token", "JIRA_API_TOKEN", "ATATT3xFfGF0{B64U:180}={HU:8}"),
    ("discord-bot", "DISCORD_BOT_TOKEN", "MT{AN:24}.{B64U:6}.{B64U:38}"),
    ("discord-webhook", "DISCORD_WEBHOOK_URL",
     "https://discord.com/api/webhooks/{D:18}/{B64U:68}"),
    ("telegram-bot", "TELEGRAM_BOT_TOKEN", "{D:10}:AA{B64U:33}"),
    ("teams-webhook", "TEAMS_WEBHOOK_URL",
     "https://example.webhook.office.com/webhookb2/{H:8}-{H:4}-{H:4}-{H:4}-{H:12}@{H:8}-{H:4}-"
     "{H:4}-{H:4}-{H:12}/IncomingWebhook/{H:32}/{H:8}-{H:4}-{H:4}-{H:4}-{H:12}"),
    ("dynatrace", "DT_API_TOKEN", "dt0c01.{AZ:24}.{AZ:64}"),
    ("easypost", "EASYPOST_API_KEY", "EZAK{AN:54}"),
    ("flutterwave", "FLW_SECRET_KEY", "FLWSECK_TEST-{H:32}-X"),
    ("frameio", "FRAMEIO_TOKEN", "fio-u-{B64U:64}"),
    ("shippo", "SHIPPO_API_TOKEN", "shippo_live_{H:40}"),
    ("square-access", "SQUARE_ACCESS_TOKEN", "EAAA{B64U:60}"),
    ("square-oauth-secret", "SQUARE_APP_SECRET", "sq0csp-{B64U:43}"),
    ("typeform", "TYPEFORM_TOKEN", "tfp_{B64U:59}"),
    ("duffel", "DUFFEL_ACCESS_TOKEN", "duffel_test_{B64U:43}"),
    ("adobe-client-secret", "ADOBE_CLIENT_SECRET", "p8e-{H:32}"),
    ("airtable-pat", "AIRTABLE_API_KEY", "pat{AN:14}.{H:64}"),
    ("beamer", "BEAMER_API_KEY", "b_{B64U:44}"),
    ("cloudflare-origin-ca", "CF_ORIGIN_CA_KEY", "v1.0-{H:24}-{H:146}"),
    ("defined-networking", "DNAPI_KEY", "dnkey-{AZ:26}-{AZ:52}"),
    ("facebook-page-token", "FACEBOOK_ACCESS_TOKEN", "EAAC{AN:140}"),
    ("flyio", "FLY_API_TOKEN", "FlyV1 fm2_{B64:150}"),
    ("gocardless", "GOCARDLESS_ACCESS_TOKEN", "live_{B64U:40}"),
    ("harness", "HARNESS_API_KEY", "pat.{B64U:22}.{H:24}.{AN:20}"),
    ("jfrog-api-key", "ARTIFACTORY_API_KEY", "AKCp{AN:69}"),
    ("mapbox-secret", "MAPBOX_SECRET_TOKEN", "sk.eyJ1Ijoi{B64U:60}.{B64U:22}"),
    ("okta", "OKTA_API_TOKEN", "00{B64U:40}"),
    ("openshift", "OPENSHIFT_TOKEN", "sha256~{B64U:43}"),
    ("scalingo", "SCALINGO_API_TOKEN", "tk-us-{B64U:48}"),
    ("brevo", "BREVO_API_KEY", "xkeysib-{H:64}-{AN:16}"),
    ("sumologic-access-id", "SUMO_ACCESS_ID", "su{AN:12}"),
    ("groq", "GROQ_API_KEY", "gsk_{AN:52}"),
    ("xai", "XAI_API_KEY", "xai-{AN:80}"),
    ("perplexity", "PERPLEXITY_API_KEY", "pplx-{AN:48}"),
    ("replicate", "REPLICATE_API_TOKEN", "r8_{AN:37}"),
    ("notion", "NOTION_TOKEN", "ntn_{D:11}{AN:35}"),
    ("notion-legacy", "NOTION_API_KEY", "secret_{AN:43}"),
    ("supabase-management", "SUPABASE_ACCESS_TOKEN", "sbp_{H:40}"),
    ("supabase-secret", "SUPABASE_SECRET_KEY", "sb_secret_{B64U:32}"),
    ("langsmith", "LANGSMITH_API_KEY", "lsv2_pt_{H:32}_{H:10}"),
    ("buildkite", "BUILDKITE_API_TOKEN", "bkua_{H:40}"),
    ("figma", "FIGMA_TOKEN", "figd_{B64U:40}"),
    ("onepassword-service-account", "OP_SERVICE_ACCOUNT_TOKEN", "ops_eyJ{B64U:250}"),
    ("tailscale-auth", "TS_AUTHKEY", "tskey-auth-{AN:17}-{AN:32}"),
    ("tailscale-api", "TS_API_KEY", "tskey-api-{AN:17}-{AN:32}"),
    ("pinecone", "PINECONE_API_KEY", "pcsk_{AN:5}_{AN:64}"),
    ("segment", "SEGMENT_PUBLIC_API_TOKEN", "sgp_{AN:64}"),
    ("adafruit", "ADAFRUIT_IO_KEY", "aio_{AN:28}"),
    ("infracost", "INFRACOST_API_KEY", "ico-{AN:32}"),
    ("octopus-deploy", "OCTOPUS_API_KEY", "API-{AZ:26}"),
    ("nuget", "NUGET_API_KEY", "oy2{az:43}"),
    ("maxmind", "MAXMIND_LICENSE_KEY", "{AN:6}_{AN:29}_mmk"),
    ("cohere", "COHERE_API_KEY", "{AN:40}"),
    ("mistral", "MISTRAL_API_KEY", "{AN:32}"),
    ("datadog-api", "DD_API_KEY", "{H:32}"),
    ("datadog-app", "DD_APP_KEY", "{H:40}"),
    ("cloudflare-api-token", "CLOUDFLARE_API_TOKEN", "{B64U:40}"),
    ("vercel", "VERCEL_TOKEN", "{AN:24}"),
    ("azure-devops-pat", "AZURE_DEVOPS_EXT_PAT", "{AN:76}AZDO{AN:4}"),
    ("algolia-admin", "ALGOLIA_ADMIN_KEY", "{H:32}"),
    ("ngrok", "NGROK_AUTHTOKEN", "2{AN:26}_{AN:21}"),
    ("contentful", "CONTENTFUL_MANAGEMENT_TOKEN", "CFPAT-{B64U:43}"),
    ("jwt", "ID_TOKEN", "JWT"),
    ("rsa-private-key", "SSH_PRIVATE_KEY", "PEM:RSA PRIVATE KEY"),
    ("openssh-private-key", "SSH_PRIVATE_KEY", "PEM:OPENSSH PRIVATE KEY"),
    ("ec-private-key", "TLS_KEY", "PEM:EC PRIVATE KEY"),
    ("pkcs8-private-key", "GCP_PRIVATE_KEY", "PEM:PRIVATE KEY"),
    ("pgp-private-key", "GPG_PRIVATE_KEY", "PEM:PGP PRIVATE KEY BLOCK"),
    ("postgres-url", "DATABASE_URL",
     "postgres://app_user:{AN:24}@db.example.internal:5432/app"),
    ("mongodb-srv-url", "MONGODB_URI",
     "mongodb+srv://admin:{AN:20}@cluster0.example.mongodb.net/prod?retryWrites=true"),
    ("redis-url", "REDIS_URL", "redis://default:{AN:32}@cache.example.com:6379/0"),
    ("amqp-url", "CELERY_BROKER_URL", "amqps://worker:{AN:24}@mq.example.com:5671/vhost"),
    ("git-https-credentials", "GIT_REMOTE",
     "https://x-access-token:ghs_{AN:36}@github.com/example/repo.git"),
    ("mssql-connection", "SQLSERVER_CONNECTION",
     "Server=tcp:example.database.windows.net,1433;Database=app;User ID=sa;"
     "Password={AN:20};Encrypt=true"),
]


def _random(rng: random.Random, alphabet: str, n: int) -> str:
    """n characters from `alphabet`, with an example marker inside where the alphabet has one
    and the value is long enough to keep most of its randomness."""
    body = [rng.choice(alphabet) for _ in range(n)]
    for marker in MARKERS:
        if n >= 3 * len(marker) and all(c in alphabet for c in marker):
            at = rng.randrange(0, n - len(marker) + 1)
            body[at:at + len(marker)] = marker
            break
    return "".join(body)


def _b64url(obj: object) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    head = _b64url({"alg": "HS256", "typ": "JWT"})
    body = _b64url({"sub": f"example-{rng.randrange(10**6)}", "iss": "https://auth.example.com",
                    "iat": 1767225600 + rng.randrange(10**6)})
    return f"{head}.{body}.{_random(rng, ALPHABETS['B64U'], 43)}"


def _pem(rng: random.Random, label: str) -> str:
    lines = [_random(rng, ALPHABETS["B64"], 64) for _ in range(5)]
    lines.append(_random(rng, ALPHABETS["B64"], 20) + "==")
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


def make(rng: random.Random, fmt: str) -> str:
    if fmt == "JWT":
        return _jwt(rng)
    if fmt.startswith("PEM:"):
        return _pem(rng, fmt[4:])
    return re.sub(r"\{(\w+):(\d+)\}",
                  lambda m: _random(rng, ALPHABETS[m.group(1)], int(m.group(2))), fmt)


def main() -> None:
    rng = random.Random(20261130)
    out = Path(__file__).with_name("secrets.jsonl")
    with out.open("w") as f:
        for kind, env, fmt in KINDS:
            for _ in range(3):
                f.write(json.dumps({"kind": kind, "env": env, "secret": make(rng, fmt)}) + "\n")
    print(f"{out}: {3 * len(KINDS)} secrets of {len(KINDS)} kinds")


if __name__ == "__main__":
    main()
