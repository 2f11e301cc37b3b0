fn main() {
    println!("audit-router: under construction");
}
