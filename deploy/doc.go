// Package deploy holds the deployment artefacts of the Webflow SCIM bridge
// (Dockerfile, docker-compose.yml, the Helm chart) and, in deploy_test.go,
// the tests that check them: the Compose file's structure, the rendered Helm
// manifests (HELM_RENDER_DIR, written by .ci/run), that every shipped config
// uses only keys the bridge knows, and that the trial stack really runs.
package deploy
