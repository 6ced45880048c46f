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

# mc keeps its aliases in $HOME/.mc; a throw-away HOME keeps the root password off any volume.
HOME="$(mktemp -d)"
export HOME
mc alias set local "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing "local/${bucket}"

# Objects of this one bucket: list it, read, write and delete its objects; nothing else
# (no other bucket, no bucket policy or administration).
cat > "$HOME/policy.json" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow",
     "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
     "Resource": ["arn:aws:s3:::${bucket}"]},
    {"Effect": "Allow",
     "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::${bucket}/*"]}
  ]
}
JSON
mc admin policy create local "$policy" "$HOME/policy.json"
# Creates the user, or sets its password to the one in .env (rotation: change it there).
mc admin user add local "$MINIO_APP_USER" "$MINIO_APP_PASSWORD"
if ! mc admin user info local "$MINIO_APP_USER" | grep -q "$policy"; then
  mc admin policy attach local "$policy" --user "$MINIO_APP_USER"
fi
echo "minio-init: bucket ${bucket} and user ${MINIO_APP_USER} (policy ${policy}) ready"
