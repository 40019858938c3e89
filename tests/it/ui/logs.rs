//! Issue 14, point 6 (the reading side): a huge log's page shows its end with a way to
//! fetch the parts before it, and its download streams from the database a page at a time.

use super::{Browser, FLOW, cluster_with_users};
use crate::harness::*;

/// A finished task whose log is replaced by `chunks` chunks of `width` bytes each: chunk
/// `s` is its number padded to `width - 1` with dots, and a newline.
async fn task_with_log(cluster: &TestCluster, chunks: i32, width: i32) -> i64 {
    cluster.apply(FLOW).await;
    let id = cluster.run("p/w", serde_json::json!({})).await;
    let detail = cluster.wait_final(id).await;
    let task_id = task(&detail, "hello").id;
    let client = cluster.store.client().await.unwrap();
    client
        .execute(
            "delete from pgdag.task_log where task_instance_id = $1",
            &[&task_id],
        )
        .await
        .unwrap();
    client
        .execute(
            "insert into pgdag.task_log (task_instance_id, seq, attempt, text)
             select $1, s, 1, lpad(s::text, $3 - 1, '.') || E'\\n'
             from generate_series(0, $2 - 1) s",
            &[&task_id, &chunks, &width],
        )
        .await
        .unwrap();
    task_id
}

/// Chunk `s` as [`task_with_log`] wrote it.
fn chunk(s: i32, width: usize) -> String {
    format!("{s:.>w$}\n", w = width - 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_logs_page_shows_its_end_and_fetches_earlier_parts() {
    let cluster = cluster_with_users().await;
    let task_id = task_with_log(&cluster, 1200, 12).await;
    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);

    // The end: the last 500 chunks, and a link to what precedes them.
    let page = browser.get(&format!("/task-instances/{task_id}/log")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&chunk(1199, 12)), "the last chunk");
    assert!(page.body.contains(&chunk(700, 12)), "the first chunk shown");
    assert!(
        !page.body.contains(&chunk(699, 12)),
        "nothing before the tail"
    );
    assert!(
        page.body.contains(&format!(
            "href=\"/task-instances/{task_id}/log?before=700\""
        )),
        "the earlier link: {}",
        page.body
    );
    assert!(page.body.contains("data-before=\"700\""));

    // The earlier link (a browser without script) shows the part before, with its own link.
    let earlier = browser
        .get(&format!("/task-instances/{task_id}/log?before=700"))
        .await;
    assert_eq!(earlier.status, 200);
    assert!(earlier.body.contains(&chunk(699, 12)));
    assert!(earlier.body.contains(&chunk(200, 12)));
    assert!(!earlier.body.contains(&chunk(199, 12)));
    assert!(!earlier.body.contains(&chunk(700, 12)));
    assert!(earlier.body.contains("?before=200\""));
    assert!(
        earlier.body.contains("data-finished=\"true\""),
        "a part is not tailed"
    );

    // What the page's script fetches for the same link, with the session.
    let part = browser
        .get(&format!(
            "/api/v1/task-instances/{task_id}/log?tail=500&before=200"
        ))
        .await;
    assert_eq!(part.status, 200, "{}", part.body);
    let part: serde_json::Value = serde_json::from_str(&part.body).unwrap();
    assert_eq!(part["first_seq"], 0);
    let expected: String = (0..200).map(|s| chunk(s, 12)).collect();
    assert_eq!(part["text"], expected);
    // The first part has no earlier link.
    let first = browser
        .get(&format!("/task-instances/{task_id}/log?before=200"))
        .await;
    assert!(!first.body.contains("id=\"log-earlier\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_of_a_long_log_streams_it_whole_a_page_at_a_time() {
    let cluster = cluster_with_users().await;
    // 3,000 chunks of 2 KiB: 6 MiB.
    let width = 2048;
    let task_id = task_with_log(&cluster, 3000, width as i32).await;
    let client = cluster.store.client().await.unwrap();
    let whole: String = client
        .query_one(
            "select string_agg(text, '' order by seq) from pgdag.task_log where task_instance_id = $1",
            &[&task_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(whole.len(), 3000 * width);

    // The store reads it in pages of the size asked for, in order.
    let mut pages = pgdag::store::logs::stream_pages(client, task_id, 100);
    let (mut count, mut read) = (0, String::new());
    while let Some(page) = pages.recv().await {
        read.push_str(&page.unwrap());
        count += 1;
    }
    assert_eq!(count, 30, "3,000 chunks in pages of 100");
    assert!(read == whole, "the pages hold the log in order");

    let mut browser = Browser::new(&cluster);
    assert_eq!(browser.login("root", "root-password").await.status, 303);
    let response = browser
        .http
        .get(format!(
            "{}/task-instances/{task_id}/log?download=1",
            browser.base
        ))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, not built whole: {:?}",
        response.headers()
    );
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"task-{task_id}.log\"")
    );
    let body = response.text().await.unwrap();
    assert_eq!(body.len(), whole.len());
    assert!(body == whole, "the download is the log, byte for byte");

    // Its page shows no more than about a MiB of it, and the link to the rest.
    let page = browser.get(&format!("/task-instances/{task_id}/log")).await;
    assert!(page.body.contains(&chunk(2999, width)));
    assert!(
        page.body.len() < 1_200_000,
        "the page holds {} bytes",
        page.body.len()
    );
    assert!(page.body.contains("id=\"log-earlier\""));
}
