#!/bin/sh
# One-off MinIO set-up, run by the compose `minio-init` service (image minio/mc) before the
# app starts, and safe to run again: the bucket, and a user that may use that bucket only.
# The app never gets MinIO's root credentials.
#
# Reads: MINIO_ROOT_USER, MINIO_ROOT_PASSWORD (administration), MINIO_APP_USER,
# MINIO_APP_PASSWORD (the app's), PLUGBOARD_S3_BUCKET, and MINIO_URL (default
# http://minio:9000).
set -eu

: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${MINIO_APP_USER:?}" "${MINIO_APP_PASSWORD:?}"
bucket="${PLUGBOARD_S3_BUCKET:-plugboard}"
policy="plugboard-app-${bucket}"

# Only the shell's builtins and mc: the minio/mc image is minimal (no grep, no mktemp).
# mc keeps its aliases in $HOME/.mc; a HOME in the container's /tmp keeps the root
# password off any volume.
HOME=/tmp
export HOME
mc alias set local "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing "local/${bucket}"

# Objects of this one bucket: list it, read, write and delete its objects; nothing else
# (no other bucket, no bucket policy or administration).
printf '%s\n' '{' \
  '  "Version": "2012-10-17",' \
  '  "Statement": [' \
  '    {"Effect": "Allow",' \
  '     "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],' \
  "     \"Resource\": [\"arn:aws:s3:::${bucket}\"]}," \
  '    {"Effect": "Allow",' \
  '     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",' \
  '                "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],' \
  "     \"Resource\": [\"arn:aws:s3:::${bucket}/*\"]}" \
  '  ]' \
  '}' > "$HOME/plugboard-policy.json"
mc admin policy create local "$policy" "$HOME/plugboard-policy.json"
# Creates the user, or sets its password to the one in .env (rotation: change it there).
mc admin user add local "$MINIO_APP_USER" "$MINIO_APP_PASSWORD"
info="$(mc admin user info local "$MINIO_APP_USER")"
case "$info" in
  *"$policy"*) ;;  # attached on an earlier run
  *) mc admin policy attach local "$policy" --user "$MINIO_APP_USER" ;;
esac
echo "minio-init: bucket ${bucket} and user ${MINIO_APP_USER} (policy ${policy}) ready"
