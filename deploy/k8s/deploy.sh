#!/usr/bin/env bash
# Deploys one environment, in the order that keeps every process on a schema it knows
# (README "Deploying"); .github/workflows/deliver.yml runs it, and so can an operator with kubectl
# (1.27+) and kustomize on PATH and a kubeconfig for the cluster.
#
#   deploy/k8s/deploy.sh images ENV REGISTRY SHA CHANGED...
#       print the six images (name=reference) to deploy: the CHANGED ones (users catalog orders
#       payments gateway migrate) as REGISTRY/nameko-shop-<name>:SHA, the others as the
#       environment runs them now (so an unchanged service is never restarted).
#   deploy/k8s/deploy.sh apply ENV NAME=IMAGE...
#       1. overlays/ENV/platform: namespace, broker, databases; waits until they are ready;
#       2. overlays/ENV/migrations: deletes the previous run's Jobs, applies one per database and
#          waits for all three to complete (a Job that fails stops the deploy, nothing rolled);
#       3. overlays/ENV: the processes; waits for every Deployment's rollout.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
IMAGES=(users catalog orders payments gateway migrate)
TIMEOUT="${DEPLOY_TIMEOUT:-10m}"

namespace() {  # the overlay's `namespace:`
    awk '/^namespace:/ {print $2}' "$HERE/overlays/$1/kustomization.yaml"
}

set_images() {  # kustomize edit set image, in DIR, for the NAME=IMAGE arguments that DIR uses
    local dir="$1" pattern="$2"
    shift 2
    for image in "$@"; do
        if [[ "$image" =~ $pattern ]]; then
            (cd "$dir" && kustomize edit set image "$image")
        fi
    done
}

current_image() {  # the image an environment runs for one name, or nothing
    local ns="$1" name="$2"
    if [[ "$name" == migrate ]]; then
        kubectl -n "$ns" get job migrate-core -o jsonpath='{.spec.template.spec.containers[0].image}' \
            2>/dev/null || true
    else
        kubectl -n "$ns" get deployment "$name" \
            -o jsonpath="{.spec.template.spec.containers[?(@.name==\"$name\")].image}" 2>/dev/null || true
    fi
}

cmd_images() {
    local env="$1" registry="$2" sha="$3"
    shift 3
    local changed=" $* " ns
    ns="$(namespace "$env")"
    for name in "${IMAGES[@]}"; do
        if [[ "$changed" == *" $name "* ]]; then
            echo "nameko-shop-$name=$registry/nameko-shop-$name:$sha"
        else
            local image
            image="$(current_image "$ns" "$name")"
            if [[ -z "$image" ]]; then
                echo "deploy.sh: $env runs no $name yet: build it too (run the workflow with all images)" >&2
                exit 1
            fi
            echo "nameko-shop-$name=$image"
        fi
    done
}

cmd_apply() {
    local env="$1" overlay="$HERE/overlays/$1" ns
    shift
    ns="$(namespace "$env")"
    set_images "$overlay" '^nameko-shop-(users|catalog|orders|payments|gateway)=' "$@"
    set_images "$overlay/migrations" '^nameko-shop-migrate=' "$@"

    echo "==> $env: namespace, broker and databases"
    kubectl apply -k "$overlay/platform"
    kubectl -n "$ns" wait --for=condition=AllReplicasReady --timeout=15m rabbitmqcluster/shop-broker
    kubectl -n "$ns" wait --for=condition=Ready --timeout=15m clusters.postgresql.cnpg.io --all

    echo "==> $env: migrations"
    kubectl -n "$ns" delete job -l app.kubernetes.io/component=migration --ignore-not-found --wait=true
    kubectl apply -k "$overlay/migrations"
    for db in core orders payments; do
        if ! kubectl -n "$ns" wait --for=condition=Complete --timeout="$TIMEOUT" "job/migrate-$db"; then
            kubectl -n "$ns" logs "job/migrate-$db" --tail=200 || true
            echo "deploy.sh: migrate-$db did not complete; nothing was rolled" >&2
            exit 1
        fi
    done

    echo "==> $env: processes"
    kubectl apply -k "$overlay"
    for name in users catalog orders payments gateway; do
        kubectl -n "$ns" rollout status "deployment/$name" --timeout="$TIMEOUT"
    done
}

case "${1:-}" in
    images) shift; cmd_images "$@" ;;
    apply) shift; cmd_apply "$@" ;;
    *) echo "usage: $0 images ENV REGISTRY SHA CHANGED... | apply ENV NAME=IMAGE..." >&2; exit 2 ;;
esac
